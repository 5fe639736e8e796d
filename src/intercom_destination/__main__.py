from intercom_destination.cli import main

main()
