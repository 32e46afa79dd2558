module go.withmatt.com/connect-brotli

go 1.22

require (
	connectrpc.com/connect v1.16.2
	github.com/andybalholm/brotli v1.1.0
)
