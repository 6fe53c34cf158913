"""Entry points: thin wrappers that parse arguments, load the config, build the session and call a pipeline."""
