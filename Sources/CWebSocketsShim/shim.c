/* placeholder: replaced by the event-loop shim */
