"""The bundled catalogue: every file loads, real API hosts match, look-alikes never do.

The tables here are written from each service's API documentation, not
derived from the provider files, so a wrong host, header or env var in a
file fails a test.
"""

from __future__ import annotations

from collections import defaultdict
from importlib import resources

import pytest

from authsome.providers.catalogue import ProviderCatalogue, bundled_providers
from authsome.providers.matching import HostPattern, Instance, is_templated
from authsome.providers.schema import ProviderDefinition, load_provider_json

CATALOGUE = ProviderCatalogue.load()
BY_NAME = {d.name: d for d in bundled_providers()}
FILES = sorted(
    item.name
    for item in resources.files("authsome.providers").joinpath("bundled").iterdir()
    if item.name.endswith(".json")
)

#: Every service issue 5 lists; the catalogue must hold at least these.
REQUIRED = {
    # OAuth2
    "atlassian", "confluence", "jira", "discord", "github", "gitlab", "google",
    "google-admin", "google-analytics", "google-calendar", "google-chat", "google-classroom",
    "google-docs", "google-drive", "google-forms", "google-gmail", "google-meet",
    "google-photos", "google-search-console", "google-sheets", "google-slides",
    "google-tasks", "google-vertex-ai", "google-youtube", "hubspot", "klaviyo-oauth",
    "linear", "microsoft", "microsoft-calendar", "microsoft-outlook", "microsoft-word",
    "notion", "reddit", "slack", "todoist", "x", "zoom", "postiz", "notion-mcp",
    # API keys
    "ahrefs", "anthropic", "apollo", "ashby", "bedrock", "beehiiv", "brave-search", "brevo",
    "buffer", "calendly", "clearbit", "cloudflare", "dub", "fireworks", "g2", "github-pat",
    "groq", "hunter", "instantly", "intercom", "keywords-everywhere", "klaviyo", "lemlist",
    "linear-api-key", "livestorm", "mailchimp", "mention-me", "mistral", "openai",
    "openrouter", "optimizely", "perplexity", "postmark", "resend", "rewardful", "savvycal",
    "semrush", "sendgrid", "stripe", "together", "tolt", "typeform", "wistia", "zapier",
    # MCP-hosted variants
    "github-mcp", "linear-mcp", "sentry-mcp", "slack-mcp", "stripe-mcp", "cloudflare-mcp",
    # beyond the list
    "gemini", "cohere", "deepseek", "huggingface", "elevenlabs", "airtable", "asana", "figma",
    "dropbox", "box", "salesforce", "shopify", "twilio", "sentry", "pagerduty", "datadog",
    "vercel", "supabase",
}  # fmt: skip

#: Real API requests (host, path) from each service's documentation, per provider.
#: Providers whose only entries wait for a {base_url} are listed in TEMPLATED instead.
REAL: dict[str, list[tuple[str, str]]] = {
    "ahrefs": [("api.ahrefs.com", "/v3/site-explorer/domain-rating")],
    "airtable": [("api.airtable.com", "/v0/meta/bases"), ("content.airtable.com", "/v0/appX/recX/fldX/uploadAttachment")],
    "anthropic": [("api.anthropic.com", "/v1/messages")],
    "apollo": [("api.apollo.io", "/api/v1/mixed_people/search")],
    "asana": [("app.asana.com", "/api/1.0/users/me")],
    "ashby": [("api.ashbyhq.com", "/candidate.list")],
    "atlassian": [("api.atlassian.com", "/oauth/token/accessible-resources"), ("api.atlassian.com", "/me")],
    "bedrock": [
        ("bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse"),
        ("bedrock-runtime.eu-central-1.amazonaws.com", "/model/x/invoke"),
        ("bedrock.us-west-2.amazonaws.com", "/foundation-models"),
        *((f"bedrock-runtime.{region}.amazonaws.com", "/model/x/converse")
          for region in ("ca-west-1", "ap-east-2", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7")),
    ],
    "beehiiv": [("api.beehiiv.com", "/v2/publications")],
    "box": [("api.box.com", "/2.0/users/me"), ("upload.box.com", "/api/2.0/files/content")],
    "brave-search": [("api.search.brave.com", "/res/v1/web/search?q=x")],
    "brevo": [("api.brevo.com", "/v3/smtp/email"), ("api.sendinblue.com", "/v3/account")],
    "buffer": [("api.buffer.com", "/")],
    "calendly": [("api.calendly.com", "/users/me")],
    "clearbit": [("person.clearbit.com", "/v2/combined/find"), ("company.clearbit.com", "/v2/companies/find")],
    "cloudflare": [("api.cloudflare.com", "/client/v4/user/tokens/verify")],
    "cloudflare-mcp": [("mcp.cloudflare.com", "/mcp")],
    "cohere": [("api.cohere.com", "/v2/chat")],
    "confluence": [("api.atlassian.com", "/ex/confluence/11223344/wiki/api/v2/pages")],
    "datadog": [("api.datadoghq.com", "/api/v1/validate"), ("api.datadoghq.eu", "/api/v2/series"), ("api.ap2.datadoghq.com", "/api/v1/validate")],
    "deepseek": [("api.deepseek.com", "/chat/completions")],
    "discord": [("discord.com", "/api/v10/users/@me"), ("discord.com", "/api/users/@me/guilds")],
    "dropbox": [("api.dropboxapi.com", "/2/files/list_folder"), ("content.dropboxapi.com", "/2/files/download")],
    "dub": [("api.dub.co", "/links")],
    "elevenlabs": [("api.elevenlabs.io", "/v1/text-to-speech/voice-id")],
    "figma": [("api.figma.com", "/v1/files/abc")],
    "fireworks": [("api.fireworks.ai", "/inference/v1/chat/completions")],
    "g2": [("data.g2.com", "/api/v2/products")],
    "gemini": [("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent")],
    "github": [("api.github.com", "/user"), ("api.github.com", "/graphql"), ("uploads.github.com", "/repos/o/r/releases/1/assets")],
    "github-mcp": [("api.githubcopilot.com", "/mcp/"), ("api.githubcopilot.com", "/mcp/readonly")],
    "github-pat": [],  # same hosts as github: see SHARED
    "gitlab": [("gitlab.com", "/api/v4/projects"), ("gitlab.com", "/api/graphql")],
    "google": [("openidconnect.googleapis.com", "/v1/userinfo"), ("www.googleapis.com", "/oauth2/v3/userinfo"), ("people.googleapis.com", "/v1/people/me")],
    "google-admin": [("admin.googleapis.com", "/admin/directory/v1/users"), ("www.googleapis.com", "/admin/directory/v1/users")],
    "google-analytics": [("analyticsdata.googleapis.com", "/v1beta/properties/1:runReport"), ("analyticsadmin.googleapis.com", "/v1beta/accounts")],
    "google-calendar": [("www.googleapis.com", "/calendar/v3/calendars/primary/events")],
    "google-chat": [("chat.googleapis.com", "/v1/spaces")],
    "google-classroom": [("classroom.googleapis.com", "/v1/courses")],
    "google-docs": [("docs.googleapis.com", "/v1/documents/abc")],
    "google-drive": [("www.googleapis.com", "/drive/v3/files"), ("www.googleapis.com", "/upload/drive/v3/files?uploadType=media")],
    "google-forms": [("forms.googleapis.com", "/v1/forms/abc")],
    "google-gmail": [("gmail.googleapis.com", "/gmail/v1/users/me/messages"), ("www.googleapis.com", "/gmail/v1/users/me/labels")],
    "google-meet": [("meet.googleapis.com", "/v2/spaces")],
    "google-photos": [("photoslibrary.googleapis.com", "/v1/mediaItems"), ("photospicker.googleapis.com", "/v1/sessions")],
    "google-search-console": [("searchconsole.googleapis.com", "/webmasters/v3/sites"), ("www.googleapis.com", "/webmasters/v3/sites")],
    "google-sheets": [("sheets.googleapis.com", "/v4/spreadsheets/abc/values/A1:B2")],
    "google-slides": [("slides.googleapis.com", "/v1/presentations/abc")],
    "google-tasks": [("tasks.googleapis.com", "/tasks/v1/users/@me/lists"), ("www.googleapis.com", "/tasks/v1/users/@me/lists")],
    "google-vertex-ai": [("us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"), ("aiplatform.googleapis.com", "/v1/projects/p/locations/global/endpoints")],
    "google-youtube": [("youtube.googleapis.com", "/youtube/v3/channels"), ("www.googleapis.com", "/youtube/v3/search"), ("www.googleapis.com", "/upload/youtube/v3/videos")],
    "groq": [("api.groq.com", "/openai/v1/chat/completions")],
    "hubspot": [("api.hubapi.com", "/crm/v3/objects/contacts"), ("api-eu1.hubapi.com", "/crm/v3/objects/contacts")],
    "huggingface": [("huggingface.co", "/api/whoami-v2"), ("router.huggingface.co", "/v1/chat/completions"), ("api-inference.huggingface.co", "/models/x")],
    "hunter": [("api.hunter.io", "/v2/domain-search?domain=example.com")],
    "instantly": [("api.instantly.ai", "/api/v2/campaigns")],
    "intercom": [("api.intercom.io", "/me"), ("api.eu.intercom.io", "/contacts")],
    "jira": [("api.atlassian.com", "/ex/jira/11223344/rest/api/3/myself")],
    "keywords-everywhere": [("api.keywordseverywhere.com", "/v1/get_keyword_data")],
    "klaviyo": [("a.klaviyo.com", "/api/profiles")],
    "klaviyo-oauth": [],  # same host as klaviyo: see SHARED
    "lemlist": [("api.lemlist.com", "/api/team")],
    "linear": [("api.linear.app", "/graphql")],
    "linear-api-key": [],  # same host as linear: see SHARED
    "linear-mcp": [("mcp.linear.app", "/mcp")],
    "livestorm": [("api.livestorm.co", "/v1/ping")],
    "mailchimp": [("us6.api.mailchimp.com", "/3.0/ping"), ("us21.api.mailchimp.com", "/3.0/lists")],
    "mention-me": [("api.mention-me.com", "/api/consumer/v2/customer")],
    "microsoft": [("graph.microsoft.com", "/v1.0/me"), ("graph.microsoft.com", "/v1.0/users")],
    "microsoft-calendar": [("graph.microsoft.com", "/v1.0/me/events"), ("graph.microsoft.com", "/v1.0/me/calendarView?startDateTime=x"), ("graph.microsoft.com", "/beta/me/calendars/abc/events")],
    "microsoft-outlook": [("graph.microsoft.com", "/v1.0/me/messages"), ("graph.microsoft.com", "/v1.0/me/sendMail"), ("graph.microsoft.com", "/v1.0/me/mailFolders/inbox/messages")],
    "microsoft-word": [("graph.microsoft.com", "/v1.0/me/drive/root/children"), ("graph.microsoft.com", "/v1.0/drives/b!abc/items/x/content")],
    "mistral": [("api.mistral.ai", "/v1/chat/completions")],
    "notion": [("api.notion.com", "/v1/search")],
    "notion-mcp": [("mcp.notion.com", "/mcp"), ("mcp.notion.com", "/sse")],
    "openai": [("api.openai.com", "/v1/chat/completions")],
    "openrouter": [("openrouter.ai", "/api/v1/chat/completions")],
    "optimizely": [("api.optimizely.com", "/v2/projects")],
    "pagerduty": [("api.pagerduty.com", "/incidents"), ("api.eu.pagerduty.com", "/services")],
    "perplexity": [("api.perplexity.ai", "/chat/completions")],
    "postiz": [("api.postiz.com", "/public/v1/integrations")],
    "postmark": [("api.postmarkapp.com", "/email")],
    "reddit": [("oauth.reddit.com", "/api/v1/me")],
    "resend": [("api.resend.com", "/emails")],
    "rewardful": [("api.getrewardful.com", "/v1/affiliates")],
    "salesforce": [("acme.my.salesforce.com", "/services/data/v62.0/sobjects"), ("acme--dev.sandbox.my.salesforce.com", "/services/data/v62.0/query")],
    "savvycal": [("api.savvycal.com", "/v1/me")],
    "semrush": [("api.semrush.com", "/?type=domain_ranks&domain=example.com")],
    "sendgrid": [("api.sendgrid.com", "/v3/mail/send")],
    "sentry": [("sentry.io", "/api/0/organizations/"), ("us.sentry.io", "/api/0/projects/"), ("de.sentry.io", "/api/0/issues/1/")],
    "sentry-mcp": [("mcp.sentry.dev", "/mcp")],
    "slack": [("slack.com", "/api/chat.postMessage"), ("files.slack.com", "/files-pri/T1-F1/download/a.png")],
    "slack-mcp": [("mcp.slack.com", "/mcp")],
    "stripe": [("api.stripe.com", "/v1/charges"), ("files.stripe.com", "/v1/files")],
    "stripe-mcp": [("mcp.stripe.com", "/")],
    "supabase": [("api.supabase.com", "/v1/projects")],
    "todoist": [("api.todoist.com", "/api/v1/tasks")],
    "together": [("api.together.xyz", "/v1/chat/completions"), ("api.together.ai", "/v1/models")],
    "tolt": [("api.tolt.com", "/v1/links")],
    "twilio": [("api.twilio.com", "/2010-04-01/Accounts/AC1/Messages.json"), ("verify.twilio.com", "/v2/Services"), ("messaging.twilio.com", "/v1/Services")],
    "typeform": [("api.typeform.com", "/forms"), ("api.eu.typeform.com", "/me")],
    "vercel": [("api.vercel.com", "/v9/projects")],
    "wistia": [("api.wistia.com", "/v1/medias.json"), ("upload.wistia.com", "/")],
    "x": [("api.x.com", "/2/users/me"), ("api.twitter.com", "/2/tweets")],
    "zapier": [("api.zapier.com", "/v2/apps")],
    "zoom": [("api.zoom.us", "/v2/users/me")],
}  # fmt: skip

#: Providers that claim a host+path another provider claims too. Each set is
#: one service reached two ways; the others name the first in alternative_to
#: and the proxy tries them in this order (first connected wins).
SHARED: dict[tuple[str, ...], list[tuple[str, str]]] = {
    ("github", "github-pat"): [("api.github.com", "/user"), ("uploads.github.com", "/x")],
    ("klaviyo", "klaviyo-oauth"): [("a.klaviyo.com", "/api/profiles")],
    ("linear", "linear-api-key"): [("api.linear.app", "/graphql")],
}

#: Providers with {base_url} entries (self-hosted or per-tenant), and a tenant URL
#: with a request that must match once that base URL is known.
TEMPLATED: dict[str, tuple[str, str, str]] = {
    "atlassian-api-token": (
        "https://acme.atlassian.net",
        "acme.atlassian.net",
        "/rest/api/3/myself",
    ),
    "github-enterprise": ("https://ghe.corp.example", "ghe.corp.example", "/api/v3/user"),
    "gitlab": ("https://gitlab.corp.example", "gitlab.corp.example", "/api/v4/projects"),
    "huggingface-endpoint": (
        "https://abc123.us-east-1.aws.endpoints.huggingface.cloud",
        "abc123.us-east-1.aws.endpoints.huggingface.cloud",
        "/v1/chat/completions",
    ),
    "shopify": ("https://acme.myshopify.com", "acme.myshopify.com", "/admin/api/2025-07/shop.json"),
}

#: The header each API-key provider's documentation prescribes.
HEADERS: dict[str, str] = {
    "ahrefs": "Authorization: Bearer <key>",
    "airtable": "Authorization: Bearer <key>",
    "anthropic": "x-api-key: <key>",
    "apollo": "x-api-key: <key>",
    "asana": "Authorization: Bearer <key>",
    "ashby": "Authorization: Basic base64(<key>:)",
    "atlassian-api-token": "Authorization: Basic base64(<key>)",
    "bedrock": "Authorization: Bearer <key>",
    "beehiiv": "Authorization: Bearer <key>",
    "brave-search": "X-Subscription-Token: <key>",
    "brevo": "api-key: <key>",
    "buffer": "Authorization: Bearer <key>",
    "calendly": "Authorization: Bearer <key>",
    "clearbit": "Authorization: Bearer <key>",
    "cloudflare": "Authorization: Bearer <key>",
    "cloudflare-mcp": "Authorization: Bearer <key>",
    "cohere": "Authorization: Bearer <key>",
    "datadog": "DD-API-KEY: <key>",
    "deepseek": "Authorization: Bearer <key>",
    "dub": "Authorization: Bearer <key>",
    "elevenlabs": "xi-api-key: <key>",
    "figma": "X-Figma-Token: <key>",
    "fireworks": "Authorization: Bearer <key>",
    "g2": "Authorization: Bearer <key>",
    "gemini": "x-goog-api-key: <key>",
    "github-mcp": "Authorization: Bearer <key>",
    "github-pat": "Authorization: Bearer <key>",
    "groq": "Authorization: Bearer <key>",
    "huggingface": "Authorization: Bearer <key>",
    "huggingface-endpoint": "Authorization: Bearer <key>",
    "hunter": "X-API-KEY: <key>",
    "instantly": "Authorization: Bearer <key>",
    "intercom": "Authorization: Bearer <key>",
    "keywords-everywhere": "Authorization: Bearer <key>",
    "klaviyo": "Authorization: Klaviyo-API-Key <key>",
    "lemlist": "Authorization: Basic base64(:<key>)",
    "linear-api-key": "Authorization: <key>",
    "linear-mcp": "Authorization: Bearer <key>",
    "livestorm": "Authorization: <key>",
    "mailchimp": "Authorization: Basic base64(anystring:<key>)",
    "mention-me": "Authorization: Bearer <key>",
    "mistral": "Authorization: Bearer <key>",
    "openai": "Authorization: Bearer <key>",
    "openrouter": "Authorization: Bearer <key>",
    "optimizely": "Authorization: Bearer <key>",
    "pagerduty": "Authorization: Token token=<key>",
    "perplexity": "Authorization: Bearer <key>",
    "postmark": "X-Postmark-Server-Token: <key>",
    "resend": "Authorization: Bearer <key>",
    "rewardful": "Authorization: Basic base64(<key>:)",
    "savvycal": "Authorization: Bearer <key>",
    "sendgrid": "Authorization: Bearer <key>",
    "sentry": "Authorization: Bearer <key>",
    "shopify": "X-Shopify-Access-Token: <key>",
    "stripe": "Authorization: Bearer <key>",
    "stripe-mcp": "Authorization: Bearer <key>",
    "supabase": "Authorization: Bearer <key>",
    "together": "Authorization: Bearer <key>",
    "tolt": "Authorization: Bearer <key>",
    "twilio": "Authorization: Basic base64(<key>)",
    "typeform": "Authorization: Bearer <key>",
    "vercel": "Authorization: Bearer <key>",
    "wistia": "Authorization: Bearer <key>",
    "zapier": "Authorization: Bearer <key>",
}

_GOOGLE = (
    "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent",
    "https://oauth2.googleapis.com/token",
    "https://oauth2.googleapis.com/revoke",
    None,
)
_ATLASSIAN = (
    "https://auth.atlassian.com/authorize?audience=api.atlassian.com&prompt=consent",
    "https://auth.atlassian.com/oauth/token",
    None,
    None,
)
_MICROSOFT = (
    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    None,  # Microsoft identity platform has no RFC 7009 endpoint
    "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
)

#: (authorization, token, revocation, device) URLs from each service's OAuth
#: documentation. The authorization URL carries the parameters the service
#: requires for a refresh token or an API audience (Google ``access_type=offline``,
#: Atlassian ``audience``, Dropbox ``token_access_type=offline``, Reddit
#: ``duration=permanent``): without them a login succeeds but cannot be refreshed.
OAUTH_ENDPOINTS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "atlassian": _ATLASSIAN,
    "confluence": _ATLASSIAN,
    "jira": _ATLASSIAN,
    "box": (
        "https://account.box.com/api/oauth2/authorize",
        "https://api.box.com/oauth2/token",
        "https://api.box.com/oauth2/revoke",
        None,
    ),
    "discord": (
        "https://discord.com/oauth2/authorize",
        "https://discord.com/api/oauth2/token",
        "https://discord.com/api/oauth2/token/revoke",
        None,
    ),
    "dropbox": (
        "https://www.dropbox.com/oauth2/authorize?token_access_type=offline",
        "https://api.dropboxapi.com/oauth2/token",
        None,  # /2/auth/token/revoke revokes the calling token, not RFC 7009
        None,
    ),
    "github": (
        "https://github.com/login/oauth/authorize",
        "https://github.com/login/oauth/access_token",
        None,  # DELETE /applications/{client_id}/token is not RFC 7009
        "https://github.com/login/device/code",
    ),
    "github-enterprise": (
        "{base_url}/login/oauth/authorize",
        "{base_url}/login/oauth/access_token",
        None,
        "{base_url}/login/device/code",
    ),
    "gitlab": (
        "{base_url}/oauth/authorize",
        "{base_url}/oauth/token",
        "{base_url}/oauth/revoke",
        "{base_url}/oauth/authorize_device",
    ),
    **{
        name: _GOOGLE
        for name in REQUIRED
        if name.startswith("google") and name not in ("google", "google-youtube")
    },
    # Google's device flow accepts only a few scopes: basic profile and YouTube among them.
    "google": (*_GOOGLE[:3], "https://oauth2.googleapis.com/device/code"),
    "google-youtube": (*_GOOGLE[:3], "https://oauth2.googleapis.com/device/code"),
    "hubspot": (
        "https://app.hubspot.com/oauth/authorize",
        "https://api.hubapi.com/oauth/v1/token",
        None,
        None,
    ),
    "klaviyo-oauth": (
        "https://www.klaviyo.com/oauth/authorize",
        "https://a.klaviyo.com/oauth/token",
        "https://a.klaviyo.com/oauth/revoke",
        None,
    ),
    "linear": (
        "https://linear.app/oauth/authorize",
        "https://api.linear.app/oauth/token",
        "https://api.linear.app/oauth/revoke",
        None,
    ),
    "microsoft": _MICROSOFT,
    "microsoft-calendar": _MICROSOFT,
    "microsoft-outlook": _MICROSOFT,
    "microsoft-word": _MICROSOFT,
    "notion": (
        "https://api.notion.com/v1/oauth/authorize?owner=user",  # owner=user is required
        "https://api.notion.com/v1/oauth/token",
        "https://api.notion.com/v1/oauth/revoke",
        None,
    ),
    # Postiz's hosted device-code server (docs.postiz.com/cli/authentication)
    "postiz": (
        None,
        "https://cli-auth.postiz.com/device/token",
        None,
        "https://cli-auth.postiz.com/device/code",
    ),
    "reddit": (
        "https://www.reddit.com/api/v1/authorize?duration=permanent",
        "https://www.reddit.com/api/v1/access_token",
        "https://www.reddit.com/api/v1/revoke_token",
        None,
    ),
    "salesforce": (
        "{base_url}/services/oauth2/authorize",
        "{base_url}/services/oauth2/token",
        "{base_url}/services/oauth2/revoke",
        None,
    ),
    "sentry-mcp": (
        "https://mcp.sentry.dev/oauth/authorize",
        "https://mcp.sentry.dev/oauth/token",
        None,
        None,
    ),
    "slack": (
        "https://slack.com/oauth/v2/authorize",
        "https://slack.com/api/oauth.v2.access",
        None,  # auth.revoke revokes the calling token
        None,
    ),
    # Slack's user-token endpoints, which its MCP server requires
    "slack-mcp": (
        "https://slack.com/oauth/v2_user/authorize",
        "https://slack.com/api/oauth.v2.user.access",
        None,
        None,
    ),
    "todoist": (
        "https://todoist.com/oauth/authorize",
        "https://todoist.com/oauth/access_token",
        None,
        None,
    ),
    "x": (
        "https://x.com/i/oauth2/authorize",
        "https://api.x.com/2/oauth2/token",
        "https://api.x.com/2/oauth2/revoke",
        None,
    ),
    "zoom": (
        "https://zoom.us/oauth/authorize",
        "https://zoom.us/oauth/token",
        "https://zoom.us/oauth/revoke",
        None,
    ),
}

#: Scopes without which a refresh token is never issued.
OFFLINE_SCOPES = {
    "atlassian": "offline_access",
    "confluence": "offline_access",
    "jira": "offline_access",
    "microsoft": "offline_access",
    "microsoft-calendar": "offline_access",
    "microsoft-outlook": "offline_access",
    "microsoft-word": "offline_access",
    "salesforce": "refresh_token",
    "x": "offline.access",
}

#: OAuth providers that cannot log in without ``--base-url`` (the instance is the user's).
NEEDS_BASE_URL = {"github-enterprise"}

#: OAuth providers whose tokens do not go as "Authorization: Bearer".
OAUTH_HEADERS = {"postiz": ("Authorization", "")}

#: Providers whose credential the proxy cannot inject, and a word their reason must contain.
UNSUPPORTED = {"semrush": "query"}

#: Environment variables the services' own SDKs and CLIs read.
ENV: dict[str, set[str]] = {
    "anthropic": {"ANTHROPIC_API_KEY"},
    "bedrock": {"AWS_BEARER_TOKEN_BEDROCK"},
    "cloudflare": {"CLOUDFLARE_API_TOKEN"},
    "cohere": {"CO_API_KEY"},
    "gemini": {"GEMINI_API_KEY", "GOOGLE_API_KEY"},
    "github": {"GH_TOKEN", "GITHUB_TOKEN"},
    "github-enterprise": {"GH_ENTERPRISE_TOKEN"},
    "github-mcp": {"GITHUB_PERSONAL_ACCESS_TOKEN"},
    "github-pat": {"GH_TOKEN", "GITHUB_TOKEN"},
    "gitlab": {"GITLAB_TOKEN"},
    "groq": {"GROQ_API_KEY"},
    "huggingface": {"HF_TOKEN"},
    "huggingface-endpoint": {"HF_TOKEN"},
    "openai": {"OPENAI_API_KEY"},
    "postiz": {"POSTIZ_API_KEY"},
    "postmark": {"POSTMARK_SERVER_TOKEN"},
    "sentry": {"SENTRY_AUTH_TOKEN"},
    "stripe": {"STRIPE_API_KEY", "STRIPE_SECRET_KEY"},
    "supabase": {"SUPABASE_ACCESS_TOKEN"},
    "twilio": {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"},
    "vercel": {"VERCEL_TOKEN"},
    "airtable": {"AIRTABLE_API_KEY"},
    "brave-search": {"BRAVE_API_KEY"},
    "cloudflare-mcp": {"CLOUDFLARE_API_TOKEN"},
    "datadog": {"DD_API_KEY"},
    "deepseek": {"DEEPSEEK_API_KEY"},
    "elevenlabs": {"ELEVENLABS_API_KEY"},
    "fireworks": {"FIREWORKS_API_KEY"},
    "linear-api-key": {"LINEAR_API_KEY"},
    "linear-mcp": {"LINEAR_API_KEY"},
    "mistral": {"MISTRAL_API_KEY"},
    "notion": {"NOTION_TOKEN"},
    "openrouter": {"OPENROUTER_API_KEY"},
    "resend": {"RESEND_API_KEY"},
    "sendgrid": {"SENDGRID_API_KEY"},
    "slack": {"SLACK_BOT_TOKEN"},
    "stripe-mcp": {"STRIPE_SECRET_KEY"},
    "together": {"TOGETHER_API_KEY"},
    "dub": {"DUB_API_KEY"},
    "pagerduty": {"PAGERDUTY_TOKEN"},
    "perplexity": {"PERPLEXITY_API_KEY"},
    "tolt": {"TOLT_API_KEY"},
}

#: Key shapes from the services' documentation: (accepted, refused).
KEYS: dict[str, tuple[list[str], list[str]]] = {
    "airtable": (
        ["patAbCdEfGhIjKlMn0." + "0123456789abcdef" * 4],
        ["key3jaF0r7yhRPZDU", "patAbCdEfGhIjKlMn0", "pat.abc"],  # legacy keys ended in 2024
    ),
    "brevo": (
        ["xkeysib-" + "0a1b2c3d" * 8 + "-AbCdEfGh12345678"],
        ["xsmtpsib-" + "0a1b2c3d" * 8 + "-AbCdEfGh12345678", "0a1b2c3d"],  # an SMTP key
    ),
    "dub": (["dub_AbC123xyz"], ["AbC123xyz", "dub_"]),
    "github-pat": (
        ["ghp_" + "a1B2" * 9, "github_pat_" + "11ABCDEFG0_" * 5],
        ["gho_" + "a1B2" * 9, "ghp_short", "sk-" + "a" * 40],
    ),
    "huggingface": (["hf_AbCdEfGhIjKlMnOp"], ["AbCdEfGh", "api_xyz"]),
    "huggingface-endpoint": (["hf_AbCdEfGhIjKlMnOp"], ["AbCdEfGh", "api_xyz"]),
    "klaviyo": (["pk_0123456789abcdef0123456789abcdef01"], ["0123456789abcdef", "sk_live_x"]),
    "linear-api-key": (
        ["lin_api_" + "Ab1" * 13 + "C"],
        ["lin_oauth_" + "a" * 40, "Ab1" * 13, "lin_api_"],
    ),
    "mailchimp": (["0123456789abcdef0123456789abcdef-us6"], ["0123456789abcdef", "abc-us"]),
    "supabase": (
        ["sbp_" + "0123456789abcdef" * 2 + "01234567", "sbp_fc" + "0a" * 20],  # classic, scoped
        ["sb_secret_AbC123", "eyJhbGciOiJIUzI1NiJ9.e30.x", "sbp_"],  # project keys are not PATs
    ),
    "stripe": (
        ["sk_test_51Habc", "sk_live_51Habc", "rk_live_51Habc"],
        ["pk_live_51Habc", "sk_prod_x", "whsec_x"],
    ),
    "tolt": (["tlt_live_" + "Ab3dE" * 5], ["live_" + "Ab3dE" * 5, "tlt_", "tlt-live-x"]),
    "twilio": (
        ["AC" + "0a" * 16 + ":authtoken123", "SK" + "1b" * 16 + ":Secret456"],
        ["AC" + "0a" * 16, "AC123:token", "user:pass"],
    ),
}

#: Look-alikes that must never get a credential, whoever claims the real host.
LOOK_ALIKES = [
    ("googleapis.com.evil.test", "/drive/v3/files"),
    ("www.googleapis.com.evil.test", "/drive/v3/files"),
    ("evilgithub.com", "/user"),
    ("api.github.com.evil.test", "/user"),
    ("api.openai.com.attacker.test", "/v1/models"),
    ("evilopenai.com", "/v1/models"),
    ("graph.microsoft.com.evil.test", "/v1.0/me"),
    ("api.atlassian.com.attacker.test", "/ex/jira/1/rest/api/3/myself"),
    ("my.salesforce.com", "/services/data"),
    ("evilmy.salesforce.com", "/services/data"),
    ("api.mailchimp.com", "/3.0/ping"),
    ("twilio.com.evil.test", "/2010-04-01/Accounts"),
    ("eviltwilio.com", "/"),
    ("aiplatform.googleapis.com.evil.test", "/v1/projects"),
    ("slack.com", "/apix/chat.postMessage"),
    # anyone can create an Inference Endpoint there and run their own code behind it
    ("x.us-east-1.aws.endpoints.huggingface.cloud", "/"),
    ("evil.eu-west-1.aws.endpoints.huggingface.cloud", "/v1/chat/completions"),
    ("www.googleapis.com", "/drivex/v3/files"),
]

#: Domains where anyone can get a subdomain that runs their own code or serves
#: their own content. A bundled entry on a host under one of them, or a
#: wildcard covering one, would hand a user's credential to a stranger; such a
#: service gets a {base_url} provider for the user's own host instead.
STRANGERS_SUBDOMAINS = [
    "endpoints.huggingface.cloud",  # Hugging Face Inference Endpoints
    "hf.space",  # Hugging Face Spaces
    "twil.io",  # Twilio Functions and Assets
    "my.site.com",  # Salesforce Experience Cloud sites (public, guest access)
    "my.salesforce-sites.com",  # Salesforce Sites
    "force.com",  # Salesforce Sites and Visualforce before enhanced domains
    "myshopify.com",  # any shop
    "atlassian.net",  # any Atlassian site
    "supabase.co",  # any Supabase project
    "mailchi.mp",  # Mailchimp-hosted landing pages
    "mailchimpsites.com",  # Mailchimp-hosted websites
    "list-manage.com",  # Mailchimp-hosted signup forms
    "vercel.app",
    "netlify.app",
    "pages.dev",
    "workers.dev",
    "github.io",
    "githubusercontent.com",
    "herokuapp.com",
    "web.app",
    "firebaseapp.com",
    "appspot.com",
    "run.app",
    "azurewebsites.net",
    "cloudfront.net",
]


def _plain_patterns(defn: ProviderDefinition) -> list[HostPattern]:
    return [HostPattern.parse(entry) for entry in defn.api_url if not is_templated(entry)]


@pytest.mark.parametrize("file_name", FILES)
def test_every_bundled_file_loads_through_the_schema(file_name: str) -> None:
    raw = resources.files("authsome.providers").joinpath("bundled", file_name).read_bytes()
    defn = load_provider_json(raw, source=file_name)
    assert f"{defn.name}.json" == file_name
    assert defn.description and defn.docs_url


def test_the_catalogue_covers_every_listed_service() -> None:
    assert set(BY_NAME) >= REQUIRED
    assert len(BY_NAME) >= 88


def test_the_tables_cover_every_provider() -> None:
    assert set(REAL) | set(TEMPLATED) == set(BY_NAME)
    api_key = {name for name, d in BY_NAME.items() if d.auth_type == "api_key"}
    assert set(HEADERS) | set(UNSUPPORTED) == api_key


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_api_hosts_match_the_provider(name: str) -> None:
    for host, path in REAL[name]:
        assert CATALOGUE.matcher.match(host, path) == name, (host, path)
        assert CATALOGUE.matcher.intercepts_host(host)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_look_alikes_of_each_host_never_match(name: str) -> None:
    """For each entry: suffix, prefix-glued and sibling-domain look-alikes match nothing."""
    for pattern in _plain_patterns(BY_NAME[name]):
        host = ("x." if pattern.wildcard else "") + pattern.host
        path = (pattern.path or "") + "/x"
        for fake in (
            f"{host}.evil.test",
            f"{host}.attacker.test",
            f"evil{pattern.host}",
            f"{host.split('.', 1)[0]}.evil.test",
        ):
            assert CATALOGUE.matcher.match(fake, path) is None, fake
            assert not CATALOGUE.matcher.intercepts_host(fake), fake
        if pattern.path:  # a longer segment is another path, not this prefix
            assert name not in CATALOGUE.matcher.match_all(host, pattern.path + "x/y")


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_no_entry_reaches_hosts_that_strangers_control(name: str) -> None:
    for pattern in _plain_patterns(BY_NAME[name]):
        for domain in STRANGERS_SUBDOMAINS:
            assert not pattern.host.endswith("." + domain), (str(pattern), domain)
            if pattern.wildcard:  # *.huggingface.cloud would cover endpoints.huggingface.cloud
                covered = domain == pattern.host or domain.endswith("." + pattern.host)
                assert not covered, (str(pattern), domain)


def test_a_huggingface_endpoint_connection_reaches_its_own_endpoint_only() -> None:
    base_url, host, _ = TEMPLATED["huggingface-endpoint"]
    instance = Instance("huggingface-endpoint", "default", base_url)
    resolved = CATALOGUE.matcher.with_instances([instance])
    assert resolved.match(host, "/") == "huggingface-endpoint"
    assert resolved.match(host, "/v1/chat/completions") == "huggingface-endpoint"
    other = "evil.us-east-1.aws.endpoints.huggingface.cloud"
    assert resolved.match_all(other, "/") == ()
    assert not resolved.intercepts_host(other)
    assert resolved.match("huggingface.co", "/api/whoami-v2") == "huggingface"


@pytest.mark.parametrize(("host", "path"), LOOK_ALIKES)
def test_named_look_alikes_get_no_provider(host: str, path: str) -> None:
    assert CATALOGUE.matcher.match_all(host, path) == ()


def test_a_longer_path_segment_falls_back_to_the_host_wide_provider() -> None:
    assert CATALOGUE.matcher.match("api.atlassian.com", "/ex/jirax/1") == "atlassian"
    assert CATALOGUE.matcher.match("graph.microsoft.com", "/v1.0/me/eventsx") == "microsoft"


def test_dot_segments_never_reach_a_path_restricted_provider() -> None:
    assert CATALOGUE.matcher.match("www.googleapis.com", "/drive/../gmail/v1/users") is None
    assert CATALOGUE.matcher.match("api.atlassian.com", "/ex/jira/%2e%2e/confluence") == "atlassian"


def test_no_two_providers_share_a_host_and_path_except_documented_alternatives() -> None:
    owners: dict[HostPattern, set[str]] = defaultdict(set)
    for defn in BY_NAME.values():
        for pattern in _plain_patterns(defn):
            owners[pattern].add(defn.name)
    shared = {frozenset(names) for names in owners.values() if len(names) > 1}
    assert shared == {frozenset(group) for group in SHARED}
    for group in SHARED:
        first, *others = group
        assert BY_NAME[first].alternative_to is None
        for other in others:
            assert BY_NAME[other].alternative_to == first
            # the reason is documented in both files, for users reading either
            assert first in (BY_NAME[other].description or "")
            assert other in (BY_NAME[first].description or "")


@pytest.mark.parametrize("group", sorted(SHARED))
def test_alternatives_are_tried_in_the_documented_order(group: tuple[str, ...]) -> None:
    for host, path in SHARED[group]:
        assert CATALOGUE.matcher.match_all(host, path) == group


@pytest.mark.parametrize("name", sorted(TEMPLATED))
def test_base_url_entries_wait_for_a_base_url(name: str) -> None:
    base_url, host, path = TEMPLATED[name]
    defn = BY_NAME[name]
    assert any(is_templated(entry) for entry in defn.api_url)
    assert "{base_url}" in (defn.description or "")
    assert CATALOGUE.matcher.match(host, path) is None
    resolved = CATALOGUE.matcher.with_instances([Instance(name, "default", base_url)])
    assert resolved.match(host, path) == name
    assert resolved.match(f"{host}.evil.test", path) is None


def test_only_the_listed_providers_use_base_url() -> None:
    templated = {n for n, d in BY_NAME.items() if any(is_templated(e) for e in d.api_url)}
    assert templated == set(TEMPLATED)


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_api_key_header_is_the_documented_one(name: str) -> None:
    api_key = BY_NAME[name].api_key
    assert api_key is not None
    assert api_key.describe() == HEADERS[name]
    header, _, value = HEADERS[name].partition(": ")
    assert api_key.header_name == header
    if "base64" not in value:
        assert api_key.header_value("K-1") == value.replace("<key>", "K-1")


@pytest.mark.parametrize("name", sorted(n for n, d in BY_NAME.items() if d.oauth))
def test_oauth_providers_have_their_endpoints(name: str) -> None:
    defn = BY_NAME[name]
    oauth = defn.oauth
    assert oauth is not None and defn.auth_type == "oauth2"
    expected = OAUTH_HEADERS.get(name, ("Authorization", "Bearer"))
    assert (oauth.header_name, oauth.header_prefix) == expected
    if defn.flow == "pkce":
        assert oauth.authorization_url and oauth.token_url
    if defn.flow == "device_code":
        assert oauth.device_authorization_url and oauth.token_url
    for url in (oauth.authorization_url, oauth.token_url, oauth.revocation_url):
        assert url is None or url.startswith(("https://", "{base_url}/"))


def test_flows_of_note() -> None:
    assert BY_NAME["postiz"].flow == "device_code"
    assert BY_NAME["notion-mcp"].flow == "dcr_pkce"
    assert BY_NAME["sentry-mcp"].flow == "dcr_pkce"
    github = BY_NAME["github"].oauth
    assert github is not None and github.device_authorization_url
    gitlab = BY_NAME["gitlab"].oauth
    assert gitlab is not None and gitlab.base_url == "https://gitlab.com"


def test_bedrock_says_it_does_not_sign_requests() -> None:
    """IAM keys need AWS SigV4 signing, which the proxy does not do: only Bedrock API keys."""
    bedrock = BY_NAME["bedrock"]
    assert bedrock.api_key is not None and bedrock.api_key.env_var == "AWS_BEARER_TOKEN_BEDROCK"
    assert "SigV4" in (bedrock.description or "") and "not supported" in (bedrock.description or "")


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_providers_say_why(name: str) -> None:
    defn = BY_NAME[name]
    assert defn.injection == "unsupported"
    assert UNSUPPORTED[name] in (defn.injection_reason or "")


def test_every_other_provider_is_injected() -> None:
    assert {n for n, d in BY_NAME.items() if d.injection != "proxy"} == set(UNSUPPORTED)


@pytest.mark.parametrize("name", sorted(ENV))
def test_env_vars_are_the_ones_sdks_read(name: str) -> None:
    defn = BY_NAME[name]
    declared = set(defn.export or {})
    if defn.api_key and defn.api_key.env_var:
        declared.add(defn.api_key.env_var)
    assert declared == ENV[name]


def test_every_api_key_env_var_is_exported() -> None:
    """``env_var`` carries the key; where the key is a 'user:secret' pair, its secret half."""
    for defn in BY_NAME.values():
        if defn.api_key and defn.api_key.env_var:
            source = "API_KEY_PASSWORD" if defn.api_key.stores_pair else "API_KEY"
            assert defn.export and defn.export.get(defn.api_key.env_var) == source, defn.name


def test_twilio_exports_the_sid_and_the_secret_apart() -> None:
    """Twilio's SDKs read TWILIO_ACCOUNT_SID (username) and TWILIO_AUTH_TOKEN (password)."""
    assert BY_NAME["twilio"].export == {
        "TWILIO_ACCOUNT_SID": "API_KEY_USER",
        "TWILIO_AUTH_TOKEN": "API_KEY_PASSWORD",
    }


@pytest.mark.parametrize("name", sorted(KEYS))
def test_documented_key_shapes(name: str) -> None:
    api_key = BY_NAME[name].api_key
    assert api_key is not None and api_key.key_pattern
    accepted, refused = KEYS[name]
    for key in accepted:
        assert api_key.key_matches(key), key
    for key in refused:
        assert not api_key.key_matches(key), key


def test_only_documented_shapes_are_enforced() -> None:
    """A wrong pattern locks users out, so each one is pinned by a sample key."""
    patterned = {n for n, d in BY_NAME.items() if d.api_key and d.api_key.key_pattern}
    first_eight = {"anthropic", "groq", "openai", "openrouter", "perplexity", "resend", "sendgrid"}
    assert patterned - first_eight == set(KEYS) | {
        "github-mcp",
        "stripe-mcp",
        "atlassian-api-token",
    }


@pytest.mark.parametrize("name", sorted(OAUTH_ENDPOINTS))
def test_oauth_endpoints_are_the_documented_ones(name: str) -> None:
    oauth = BY_NAME[name].oauth
    assert oauth is not None
    found = (
        oauth.authorization_url,
        oauth.token_url,
        oauth.revocation_url,
        oauth.device_authorization_url,
    )
    assert found == OAUTH_ENDPOINTS[name]


@pytest.mark.parametrize("name", sorted(OFFLINE_SCOPES))
def test_refresh_needing_scopes_are_asked_by_default(name: str) -> None:
    oauth = BY_NAME[name].oauth
    assert oauth is not None and OFFLINE_SCOPES[name] in oauth.scopes


def test_the_endpoint_table_covers_every_pkce_provider() -> None:
    pkce = {n for n, d in BY_NAME.items() if d.flow == "pkce"}
    assert pkce <= set(OAUTH_ENDPOINTS)


@pytest.mark.parametrize("name", sorted(n for n, d in BY_NAME.items() if d.oauth))
def test_oauth_login_needs_no_base_url_unless_self_hosted(name: str) -> None:
    """`authsome login NAME` must start for every bundled OAuth provider as shipped."""
    from authsome.daemon.services.oauth_endpoints import (
        base_url_for,
        choose_flow,
        configured_endpoints,
    )
    from authsome.errors import InvalidInput

    defn = BY_NAME[name]
    base_url = base_url_for(defn, None)
    if name in NEEDS_BASE_URL:
        assert not base_url and "--base-url" in (defn.description or "")
        with pytest.raises(InvalidInput, match="--base-url"):
            configured_endpoints(defn, base_url)
        return
    endpoints = configured_endpoints(defn, base_url)
    if defn.flow == "dcr_pkce":
        # discovery starts at the MCP URL, which must be one the provider serves
        assert base_url.startswith("https://")
        host = base_url.removeprefix("https://").split("/", 1)[0]
        assert CATALOGUE.matcher.match(host, "/" + base_url.split("/", 3)[-1]) == name
        return
    assert choose_flow(defn, endpoints, None, prefer_device=False) == defn.flow
