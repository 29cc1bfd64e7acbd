"""podrun's container init helper (launcher): `sys.executable -I -S init.py [--sync-fd N] [CONFIG]`.

Kept tiny on purpose: Python compiles a script on every run but imports modules from their
cached .pyc. The steps are in initsteps.py; the protocol in docs/init-helper.md.
"""

import os
import sys

# Make podrun.runtime.* importable without running the package __init__ files (they may
# import the daemon's dependencies; this interpreter has no site-packages).
_rt = os.path.dirname(os.path.abspath(__file__))
for _name, _path in (("podrun", os.path.dirname(_rt)), ("podrun.runtime", _rt)):
    if _name not in sys.modules:
        _m = type(sys)(_name)
        _m.__path__ = [_path]
        sys.modules[_name] = _m

from podrun.runtime.initsteps import main  # noqa: E402

sys.exit(main(sys.argv))
