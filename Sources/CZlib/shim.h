// The system zlib (apt: zlib1g-dev), for permessage-deflate (RFC 7692) in WebSocketCore.
#include <zlib.h>
