"""What the commands do, apart from reading their arguments (that is `cli.py`)."""
