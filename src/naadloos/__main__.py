from naadloos.cli import main

main()
