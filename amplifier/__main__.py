from amplifier.cli import main

main()
