"""HTTP code -> v1 StatusReason (k8s.io/apimachinery/pkg/apis/meta/v1/types.go), in a module
of its own: the daemon's Status objects and the CLI's (which must not import the schema
module and its dependencies at start) use the same table."""

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
    504: "Timeout",
}
