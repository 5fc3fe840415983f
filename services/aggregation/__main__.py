from services.aggregation.app import main

main()
