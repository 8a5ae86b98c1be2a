"""The bundled plan files (TOML) for ``improvesim compare``."""
