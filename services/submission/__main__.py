from services.submission.app import main

main()
