module chainfaas.dev/test/security/escape

go 1.19
