from sen_preproc.cli.main import main

main()
