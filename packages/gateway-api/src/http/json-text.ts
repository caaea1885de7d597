/**
 * A response's `data` already written as JSON text (SQLite writes list pages itself, see
 * list-query.ts): the envelope splices it in instead of serializing objects again. Node 20 has no
 * JSON.rawJSON, so this is the marker the route registry looks for.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

export function envelopeText(code: string, msgid: string, data: JsonText): string {
  return `{"code":${JSON.stringify(code)},"msgid":${JSON.stringify(msgid)},"data":${data.text}}`;
}
