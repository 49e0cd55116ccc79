"""HTTP routes, one module per resource; ``ROUTERS`` is what the app mounts."""

from authsome.daemon.routes import (
    audit,
    connections,
    health,
    identities,
    oauth,
    oauth_browser,
    providers,
    resolve,
    runs,
    vault,
)

ROUTERS = (
    health.router,
    identities.router,
    providers.router,
    connections.router,
    oauth.router,
    oauth_browser.router,
    runs.router,
    resolve.router,
    vault.router,
    audit.router,
)
