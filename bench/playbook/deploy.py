# The benchmark deploy for pyinfra: the same work as bench.yml.
from io import StringIO

from pyinfra.operations import files, server

files.directory(name="A directory", path="/tmp/provision-bench", mode="755")
files.put(name="A file with content", src=StringIO("hello from the benchmark\n"),
          dest="/tmp/provision-bench/hello.txt", mode="644")
for i in range(1, 11):
    files.put(name=f"Small file {i}", src=StringIO(f"item {i}\n"),
              dest=f"/tmp/provision-bench/item-{i}")
files.file(name="Config exists", path="/tmp/provision-bench/app.conf")
files.line(name="Setting one", path="/tmp/provision-bench/app.conf", line="one=1")
files.line(name="Setting two", path="/tmp/provision-bench/app.conf", line="two=2")
files.line(name="Setting three", path="/tmp/provision-bench/app.conf", line="^three=.*", replace="three=3")
files.line(name="Setting four", path="/tmp/provision-bench/app.conf", line="^four=.*", replace="four=4")
files.line(name="Setting five", path="/tmp/provision-bench/app.conf", line="five=5")
server.shell(name="A command", commands=["uptime"])
