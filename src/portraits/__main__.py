"""``python -m portraits`` runs the command line."""

from portraits.cli.main import main

main()
