// Characters never acceptable in a mail address or an attachment's file name: control
// characters (C0, DEL and C1), lone surrogates, and the invisible or bidirectional
// formatting characters that make text read as something it is not (`invoice\u202Etxt.exe`
// shows as `invoiceexe.txt`). The zero-width (non-)joiners are not here: some scripts need them.
export const unsafeText = /[\p{Cc}\p{Cs}\p{Bidi_Control}\u200b\u2060\ufeff\u2028\u2029]/u;
