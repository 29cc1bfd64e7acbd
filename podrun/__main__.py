from podrun.cli_fast import main

main()
