'use strict';

// A merchant's integration of Paywire's PaymentService written the way a
// Node.js shop would write it: node-soap builds its client from the WSDL the
// server serves, and every operation is called through that client, never by
// hand-written XML. api/interop_test.go runs this script against a test
// server and asserts on the JSON it prints.
//
// Options, each as --name=value or as the environment variable in brackets:
//
//   --wsdl        URL of the served WSDL (PAYWIRE_WSDL)
//   --endpoint    URL to post to, overriding the WSDL's address (PAYWIRE_ENDPOINT)
//   --merchant    merchant id (PAYWIRE_MERCHANT)
//   --secret      the merchant's API secret (PAYWIRE_SECRET)
//   --authorized  id of an AUTHORIZED payment of the merchant for 10.00 EUR (PAYWIRE_AUTHORIZED)
//   --soap        1.1 or 1.2 (PAYWIRE_SOAP_VERSION, default 1.1)
//   --auth        how to authenticate (PAYWIRE_AUTH, default wsse):
//                   wsse       a UsernameToken with a PasswordText password only
//                   wsse-full  node-soap's defaults: a Timestamp, a Created and a
//                              Nonce in the token, and mustUnderstand="1"
//                   basic      HTTP Basic, no SOAP header
//   --prefix      prefix of the merchant references this run uses (PAYWIRE_PREFIX,
//                 default interop)
//
// It prints one JSON document: the result object of every call as node-soap
// returns it, what the first request looked like on the wire, and the fault
// of each call that must fail (capturing a cancelled payment, and a call
// with a wrong secret). It exits 1, with the exchange that went wrong on
// stderr, if any call answers otherwise.

const soap = require('soap');

const options = {
  wsdl: ['PAYWIRE_WSDL'],
  endpoint: ['PAYWIRE_ENDPOINT'],
  merchant: ['PAYWIRE_MERCHANT'],
  secret: ['PAYWIRE_SECRET'],
  authorized: ['PAYWIRE_AUTHORIZED'],
  soap: ['PAYWIRE_SOAP_VERSION', '1.1'],
  auth: ['PAYWIRE_AUTH', 'wsse'],
  prefix: ['PAYWIRE_PREFIX', 'interop'],
};

function readOptions(argv, env) {
  const given = {};
  for (const arg of argv) {
    const m = /^--([a-z]+)=(.*)$/s.exec(arg);
    if (!m || !(m[1] in options)) {
      throw new Error(`unknown argument ${arg}; options are ${Object.keys(options).map((k) => '--' + k).join(', ')}`);
    }
    given[m[1]] = m[2];
  }
  const out = {};
  for (const [name, [variable, fallback]] of Object.entries(options)) {
    out[name] = given[name] ?? env[variable] ?? fallback;
    if (out[name] === undefined || out[name] === '') {
      throw new Error(`--${name} (or ${variable}) is required`);
    }
  }
  if (out.soap !== '1.1' && out.soap !== '1.2') {
    throw new Error(`--soap must be 1.1 or 1.2, not ${out.soap}`);
  }
  return out;
}

function security(opts) {
  switch (opts.auth) {
    case 'wsse':
      return new soap.WSSecurity(opts.merchant, opts.secret, {
        passwordType: 'PasswordText', hasTimeStamp: false, hasTokenCreated: false, hasNonce: false,
      });
    case 'wsse-full':
      return new soap.WSSecurity(opts.merchant, opts.secret, {
        passwordType: 'PasswordText', hasNonce: true, mustUnderstand: true,
      });
    case 'basic':
      return new soap.BasicAuthSecurity(opts.merchant, opts.secret);
  }
  throw new Error(`--auth must be wsse, wsse-full or basic, not ${opts.auth}`);
}

// faultOf returns what a client branches on in a Paywire fault: the code in
// the detail (SOAP 1.1 detail, SOAP 1.2 Detail), the SOAP fault code, and
// the HTTP status.
function faultOf(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (!fault) {
    return null;
  }
  const detail = fault.detail || fault.Detail || {};
  const soapCode = fault.faultcode || (fault.Code && fault.Code.Value);
  return {
    code: detail.fault && detail.fault.code,
    message: detail.fault && detail.fault.message,
    soapCode: typeof soapCode === 'object' ? soapCode.$value : soapCode,
    httpStatus: err.response && err.response.status,
  };
}

// wire describes the last request as node-soap sent it, so that the test can
// tell which SOAP version and credentials really went over the wire. The
// secret is masked.
function wire(client, secret) {
  const headers = {};
  for (const [name, value] of Object.entries(client.lastRequestHeaders || {})) {
    headers[name.toLowerCase()] = String(value);
  }
  return {
    contentType: headers['content-type'] || '',
    soapAction: headers.soapaction || '',
    basicAuth: (headers.authorization || '').startsWith('Basic '),
    envelope: masked(client.lastRequest, secret),
  };
}

function masked(request, secret) {
  return String(request || '').split(secret).join('***');
}

async function main() {
  const opts = readOptions(process.argv.slice(2), process.env);
  const soap12 = opts.soap === '1.2';
  const client = await soap.createClientAsync(opts.wsdl, { forceSoap12Headers: soap12 });
  client.setEndpoint(opts.endpoint);
  client.setSecurity(security(opts));

  // The WSDL has one port per SOAP version; call through the one the run
  // speaks, as a client generated for that binding would.
  const portName = soap12 ? 'PaymentServiceSoap12Port' : 'PaymentServiceSoap11Port';
  const port = client.PaymentService && client.PaymentService[portName];
  if (!port) {
    throw new Error(`the WSDL has no port PaymentService/${portName}: ${JSON.stringify(client.describe())}`);
  }

  const exchange = () =>
    `request to ${client.lastEndpoint}:\n${masked(client.lastRequest, opts.secret)}\nresponse:\n${client.lastResponse}`;

  function invoke(operation, args) {
    return new Promise((resolve, reject) => {
      if (typeof port[operation] !== 'function') {
        reject(new Error(`the WSDL's ${portName} has no operation ${operation}`));
        return;
      }
      port[operation](args, (err, result) => (err ? reject(err) : resolve(result)));
    });
  }

  async function call(operation, args) {
    try {
      return await invoke(operation, args);
    } catch (err) {
      const f = faultOf(err);
      throw new Error(`${operation} failed: ${f ? JSON.stringify(f) : err.message}\n${exchange()}`);
    }
  }

  async function mustFail(operation, args) {
    let result;
    try {
      result = await invoke(operation, args);
    } catch (err) {
      const f = faultOf(err);
      if (!f || !f.code) {
        throw new Error(`${operation} failed without a Paywire fault: ${err.message}\n${exchange()}`);
      }
      return { operation, ...f };
    }
    throw new Error(`${operation} succeeded where it must fail: ${JSON.stringify(result)}\n${exchange()}`);
  }

  const shop = 'https://shop-a.example/';
  const reference = `${opts.prefix}-redirect`;
  const redirectRequest = {
    merchantReference: reference,
    kind: 'DEPOSIT',
    amount: '50.00',
    currency: 'EUR',
    endUser: { id: 'user-1', email: 'user@example.com', country: 'DE', language: 'de', ip: '192.0.2.7' },
    returnUrls: {
      success: shop + 'ok', error: shop + 'error', cancel: shop + 'cancel',
      refused: shop + 'refused', pending: shop + 'pending',
    },
  };

  const out = { soapVersion: opts.soap, auth: opts.auth };
  out.methods = await call('getAvailablePaymentMethods', { kind: 'DEPOSIT', amount: '50.00', currency: 'EUR', country: 'DE' });
  out.wire = wire(client, opts.secret);
  out.redirect = await call('getRedirectData', redirectRequest);
  out.redirectAgain = await call('getRedirectData', redirectRequest);
  const redirectId = out.redirect.paymentId;
  out.detailsById = await call('getPaymentDetails', { paymentId: redirectId });
  out.detailsByReference = await call('getPaymentDetails', { merchantReference: reference });
  out.cancel = await call('cancelPayment', { paymentId: redirectId });
  out.capture = await call('capturePayment', { paymentId: opts.authorized, amount: '6.00' });
  out.refund = await call('refundPayment', { paymentId: opts.authorized, amount: '2.00', refundReference: `${opts.prefix}-refund-1` });
  out.create = await call('createPayment', {
    merchantReference: `${opts.prefix}-backend`,
    kind: 'DEPOSIT',
    amount: '50.00',
    currency: 'EUR',
    endUser: { id: 'u1', country: 'DE' },
    paymentMethod: 'card',
    sourcePaymentId: opts.authorized,
  });
  out.fault = await mustFail('capturePayment', { paymentId: redirectId });

  // A wrong secret must come back as a fault the client can branch on too.
  client.setSecurity(security({ ...opts, secret: opts.secret + '-wrong' }));
  out.authFault = await mustFail('getPaymentDetails', { paymentId: redirectId });

  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`interop/client.js: ${err.message}\n`);
  process.exit(1);
});
