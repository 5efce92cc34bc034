from ideaflow.cli import main

main()
