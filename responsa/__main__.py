from responsa.cli import main

main()
