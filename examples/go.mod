module chainfaas.dev/examples

go 1.19
