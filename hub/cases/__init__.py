"""The case record: cases, people, the team, entries; their writes (operations), reads
(queries, reads) and the one redaction; pages (views) and API routes (api)."""
