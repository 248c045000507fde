"""What the tests read back from a kernel they run code in."""


def collector():
    """(printed, hook): `hook` as jupyter_client's `output_hook` appends to `printed` each stream's text
    and each error as 'Name: value'."""
    printed = []

    def hook(message):
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            printed.append(f"{message['content']['ename']}: {message['content']['evalue']}\n")

    return printed, hook
