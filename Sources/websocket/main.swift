print("websocket")
