"""The probe handlers (httpGet, tcpSocket, exec, grpc) and the netns socket factory."""
