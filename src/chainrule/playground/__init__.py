"""The playground: a local web app in which a learner changes the data, features and network and watches chainrule
itself train, with every number one click away (``chainrule playground``; needs ``chainrule[playground]``).

    settings.py   the settings, parsed and checked      data.py     the datasets, the features, CSV uploads
    session.py    one tab's run: data, model, training  update.py   the optimiser's real update, written out
    server.py     the ASGI app: the page, the WebSocket, exports, one worker thread per tab
    guard.py      only its own Host and Origin get in; messages of bounded size and depth
    serve.py      uvicorn with a request-head deadline, stopped cleanly by Ctrl-C or SIGTERM

The page is drawn by the explain pages' own scripts (``chainrule/explain/html/assets``) plus ``assets/``.
"""

from .server import create_app
from .settings import Settings, SettingsError, parse

__all__ = ["Settings", "SettingsError", "create_app", "parse"]
