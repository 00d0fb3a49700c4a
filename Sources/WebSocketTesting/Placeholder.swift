// In-memory transports and scripted peers.
