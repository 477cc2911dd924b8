from mmctl.app import main

main()
