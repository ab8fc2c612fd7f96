module chainfaas.dev/relay

go 1.19
