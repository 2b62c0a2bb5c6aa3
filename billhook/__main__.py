from billhook.cli import main

main()
