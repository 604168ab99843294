"""Stream Load with Python requests, the way Doris users write it: a session
that keeps the credentials when following the FE's 307 to a backend (plain
requests drops them when the port changes), and the FE's proxy mode, which
needs no redirect at all. Prints one JSON answer per line."""
import json
import sys

import requests


class DorisSession(requests.Session):
    def rebuild_auth(self, prepared_request, response):
        pass


port, path = int(sys.argv[1]), sys.argv[2]
url = f"http://127.0.0.1:{port}/api/db/t/_stream_load"
with open(path, "rb") as f:
    data = f.read()
headers = {"column_separator": ",", "label": "py_redirect"}
r = DorisSession().put(url, data=data, headers=headers, auth=("root", ""))
print(json.dumps(r.json()))
headers = {"column_separator": ",", "label": "py_proxy", "redirect-policy": "proxy"}
r = requests.put(url, data=data, headers=headers, auth=("root", ""), allow_redirects=False)
print(r.status_code, json.dumps(r.json()))
