"""nginx (Debian's nginx-light) serving a folder on 127.0.0.1: the baseline
web server of the benchmarks, and a web seed in the tests (also on a netsim
node's address: made inside `net.namespace(i)`, it runs there)."""
import os
import shutil
import socket
import subprocess
import tempfile

from harness import free_port, wait_for


class Nginx:
    """nginx serving `root` on host:port (127.0.0.1 and a free port by
    default: the baseline web server), with one worker unless `workers` says
    otherwise ("auto": one per core), and at most `keepalive_requests`
    requests on one connection before nginx closes it."""

    def __init__(self, root, host="127.0.0.1", port=None, workers=1,
                 keepalive_requests=1000000):
        self.dir = tempfile.mkdtemp(prefix="hostless-nginx-")
        self.host = host
        self.port = port or free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""%sworker_processes %s;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests %d;
  keepalive_timeout 60s;
  client_body_temp_path %s;
  proxy_temp_path %s;
  fastcgi_temp_path %s;
  uwsgi_temp_path %s;
  scgi_temp_path %s;
  server { listen %s:%d; root %s; }
}
""" % ((user, workers) + (self.dir,) * 2 + (keepalive_requests,) + (self.dir,) * 5
       + (host, self.port, root)))
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: can_connect(self.port, host), 10):
            raise RuntimeError("nginx did not start")

    def worker_count(self):
        """How many worker processes the nginx master runs now."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        with open(path) as f:
            return len(f.read().split())

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def can_connect(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False
