// Minimal loopback server: see WebSocketServer.swift
