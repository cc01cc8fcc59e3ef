// The only script of the web pages: copy buttons and confirmations. Pages work without it.
document.addEventListener('click', function (event) {
  var button = event.target.closest('[data-copy]');
  if (!button) {
    return;
  }
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) {
    return;
  }
  var label = button.querySelector('.copy-label') || button;
  var done = function () {
    button.setAttribute('data-copied', 'true');
    label.textContent = 'Copied';
  };
  var failed = function () {
    // Nothing could write the clipboard: the text stays selected for the user's own copy keys.
    selectContents(source);
    button.setAttribute('data-copied', 'false');
    label.textContent = 'Press Ctrl+C';
  };
  // The selection copy first, while the click still counts as the user's gesture: the asynchronous clipboard API
  // can reject (an unfocused window, a denied permission) or answer late, and a copy tried after that is refused.
  if (copySelection(source)) {
    done();
    return;
  }
  if (navigator.clipboard && window.isSecureContext) {
    var text = (source.value !== undefined ? source.value : source.textContent).trim();
    navigator.clipboard.writeText(text).then(done, failed);
  } else {
    failed();
  }
});

function selectContents(source) {
  if (typeof source.select === 'function') {
    source.select();
    return;
  }
  var range = document.createRange();
  range.selectNodeContents(source);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function copySelection(source) {
  selectContents(source);
  try {
    return document.execCommand('copy');
  } catch (e) {
    return false;
  }
}

document.addEventListener('submit', function (event) {
  var submitter = event.submitter;
  var message = (submitter && submitter.getAttribute('data-confirm')) || event.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  // A second click (or Enter) while the first post is on its way would create the endpoint, key or user twice:
  // a form that writes is sent once per page view (a page restored from the back-forward cache is a new view).
  var form = event.target;
  if ((form.getAttribute('method') || '').toLowerCase() === 'post') {
    if (form.getAttribute('data-sent') === 'true') {
      event.preventDefault();
      return;
    }
    form.setAttribute('data-sent', 'true');
  }
});

window.addEventListener('pageshow', function () {
  document.querySelectorAll('form[data-sent]').forEach(function (form) {
    form.removeAttribute('data-sent');
  });
});
