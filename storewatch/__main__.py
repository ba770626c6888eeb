from storewatch.cli import main

main(prog_name="storewatch")
