"""One error family, with messages a coordinator can act on."""


class MailflowError(Exception):
    """Base of every error mailflow reports to a user instead of a traceback."""


class ConfigError(MailflowError):
    """The configuration file is missing, unreadable or has a wrong key or value."""


class ImportRowError(MailflowError):
    """A row of an imported CSV file is invalid; the message names the line."""


class RulesError(MailflowError):
    """A file under rules/ is missing or malformed."""


class SchemaError(MailflowError):
    """The database schema cannot be used or upgraded (e.g. newer than this mailflow)."""
