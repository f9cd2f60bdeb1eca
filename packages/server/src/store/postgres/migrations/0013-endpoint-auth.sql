-- How deliveries authenticate to an endpoint beyond the signature: an OAuth 2 client
-- credentials configuration (JSON, sealed: it holds the client secret), a client certificate
-- with its private key (PEM, sealed) and a CA its server certificate must chain to (PEM).
ALTER TABLE endpoints ADD COLUMN oauth text;
ALTER TABLE endpoints ADD COLUMN mtls_identity text;
ALTER TABLE endpoints ADD COLUMN server_ca text;
