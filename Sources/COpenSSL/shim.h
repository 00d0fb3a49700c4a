// The system OpenSSL (libssl-dev), plus static inline wrappers for the macros and variadic or
// type-generic calls Swift cannot import (SSL_CTX_set_min_proto_version, SSL_set_tlsext_host_name,
// the STACK_OF accessors, ...). Nothing here keeps state.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <openssl/bio.h>
#include <time.h>

static inline int cws_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline int cws_ssl_ctx_set_min_tls13(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
}

static inline void cws_ssl_ctx_disable_renegotiation(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
}

static inline int cws_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int cws_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add1_chain_cert(ctx, cert);
}

static inline int cws_ssl_set_retry_verify(SSL *ssl) {
    return SSL_set_retry_verify(ssl);
}

static inline int cws_ssl_set_app_data(SSL *ssl, void *data) {
    return SSL_set_ex_data(ssl, 0, data);
}

static inline void *cws_ssl_get_app_data(const SSL *ssl) {
    return SSL_get_ex_data(ssl, 0);
}

// The SSL connection a certificate-verification context belongs to.
static inline SSL *cws_store_ctx_get_ssl(X509_STORE_CTX *ctx) {
    return (SSL *)X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
}

static inline long cws_bio_pending(BIO *bio) {
    return (long)BIO_ctrl_pending(bio);
}

static inline void cws_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    SSL_CTX_set_mode(ctx, mode);
}

static inline int cws_sk_x509_num(const STACK_OF(X509) *stack) {
    return stack == NULL ? 0 : sk_X509_num(stack);
}

static inline X509 *cws_sk_x509_value(const STACK_OF(X509) *stack, int index) {
    return sk_X509_value(stack, index);
}

// Prints the subject alternative names of `cert` into `bio`, one per line
// ("DNS:localhost", "IP Address:127.0.0.1"). Returns how many were printed.
static inline int cws_print_subject_alt_names(X509 *cert, BIO *bio) {
    GENERAL_NAMES *names = (GENERAL_NAMES *)X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return 0;
    int count = sk_GENERAL_NAME_num(names);
    for (int i = 0; i < count; i++) {
        GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(names, i));
        BIO_puts(bio, "\n");
    }
    GENERAL_NAMES_free(names);
    return count;
}

// Prints `name` in RFC 2253 form (CN=localhost,O=Example) into `bio`.
static inline int cws_print_name(BIO *bio, const X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
}

// Seconds since 1970 of an ASN.1 time, or -1 when it cannot be read.
static inline long long cws_asn1_time_to_unix(const ASN1_TIME *time) {
    struct tm parts;
    if (time == NULL || ASN1_TIME_to_tm(time, &parts) != 1) return -1;
    return (long long)timegm(&parts);
}

#endif
