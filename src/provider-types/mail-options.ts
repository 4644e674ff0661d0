import type { SendMailOptions } from 'nodemailer';
import type { OutgoingMail } from './mail-transport.js';

/**
 * The nodemailer message for an outgoing mail, the same for every provider type, so that the
 * MIME message (our Message-ID, headers, bodies, attachments) is built the same way whichever
 * provider sends it.
 */
export function mailOptions(mail: OutgoingMail): SendMailOptions {
  return {
    messageId: mail.messageId,
    // Address objects and an explicit envelope: nodemailer parses address strings (FINDINGS.md).
    from: { name: mail.from.name, address: mail.from.address },
    to: mail.to.map((address) => ({ name: '', address })),
    cc: mail.cc.map((address) => ({ name: '', address })),
    bcc: mail.bcc.map((address) => ({ name: '', address })),
    replyTo: mail.replyTo ? { name: '', address: mail.replyTo } : undefined,
    envelope: { from: mail.from.address, to: [...mail.to, ...mail.cc, ...mail.bcc] },
    subject: mail.subject,
    text: mail.text ?? undefined,
    html: mail.html ?? undefined,
    headers: mail.headers,
    attachments: mail.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType ?? undefined })),
  };
}
