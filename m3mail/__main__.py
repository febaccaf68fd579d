from m3mail.cli import main

main()
