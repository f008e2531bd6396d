from aster.server.main import main

main()
