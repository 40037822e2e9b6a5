"""xephang: queue ticketing for Vietnamese one-stop public administration offices.

Importing the package is cheap (nothing from Flask is loaded), so the CLI can
apply gevent's monkey patching before anything else is imported.
"""

__version__ = "0.1.0"


def create_app(config: dict | None = None):
    """Build the Flask application (see xephang.app.create_app)."""
    from .app import create_app as _create_app

    return _create_app(config)
