// Umbrella header for libcurl (Debian: libcurl4-openssl-dev).
// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: these typed
// inline wrappers are the only additions.
#ifndef STOCKFLOW_CCURL_SHIM_H
#define STOCKFLOW_CCURL_SHIM_H

#include <curl/curl.h>

static inline CURLcode stockflow_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode stockflow_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode stockflow_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode stockflow_curl_set_opensocket(CURL *handle, curl_opensocket_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, callback);
}

static inline CURLcode stockflow_curl_set_sockopt(CURL *handle, curl_sockopt_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_SOCKOPTFUNCTION, callback);
}

static inline CURLcode stockflow_curl_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}

#endif
