from twinforge.cli.main import app

app(prog_name="twinforge")
