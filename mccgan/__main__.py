from mccgan.cli import main

main()
