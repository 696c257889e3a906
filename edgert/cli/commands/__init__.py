"""One module per ``edgert`` subcommand family; each defines ``register(subparsers)``."""
