from entrasync.launch import run

run()
