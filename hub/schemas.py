"""The base of every input schema: unknown fields refused, NUL characters refused."""

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load


class Strict(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def no_nul(self, data, **_kwargs):
        """PostgreSQL cannot store NUL in text: refuse it here as bad input, not a 500."""
        if isinstance(data, dict):
            for key, value in data.items():
                values = value if isinstance(value, list) else [value]
                if "\x00" in str(key) or any(isinstance(v, str) and "\x00" in v for v in values):
                    raise ValidationError("must not contain NUL characters", str(key))
        return data


class JsonBoolean(fields.Boolean):
    """JSON true or false only, never 0, "no" or "off"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
