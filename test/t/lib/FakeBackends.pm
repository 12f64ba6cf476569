# Start and drive test/fake-backends/secret_backends.mjs (Vault KV v2,
# Infisical and http-json stand-ins with fault modes) from a TAP test.
#
#   my $fb = FakeBackends->start(vault_token => ..., infisical_token => ...,
#                                json_token => ...,
#                                # optional: universal-auth, HTTPS
#                                infisical_client_id => ..., infisical_client_secret => ...,
#                                infisical_token_ttl => 7200,
#                                tls_cert => 'server.pem', tls_key => 'server.key');
#   $fb->url('/fault/hang')   # http://127.0.0.1:<port>/fault/hang
#   $fb->tls_url              # https://127.0.0.1:<tls port>
#   $fb->counter('logins')    # logins, loginFailures, writes.vault, ...
#   $fb->refused_url          # a loopback port nothing listens on
#   $fb->vault_put('secret', 'team/openai', { value => 'x' });
#   $fb->stop;                # also done when the object goes away
package FakeBackends;

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;

sub start
{
	my ($class, %opt) = @_;
	my $script = File::Spec->catfile(dirname(__FILE__), '..', '..',
		'fake-backends', 'secret_backends.mjs');
	my ($in, $out, $err) = ('', '', '');
	my @extra;
	for my $o (qw(infisical_client_id infisical_client_secret infisical_token_ttl
		tls_cert tls_key))
	{
		next unless defined $opt{$o};
		(my $flag = "--$o") =~ tr/_/-/;
		push @extra, $flag, $opt{$o};
	}
	my $h = IPC::Run::start(
		[
			'node', $script,
			'--vault-token', $opt{vault_token},
			'--infisical-token', $opt{infisical_token},
			'--json-token', $opt{json_token},
			@extra
		],
		'<', \$in, '>', \$out, '2>', \$err,
		IPC::Run::timeout(20));
	$h->pump until $out =~ /\n/;
	my $info = decode_json((split /\n/, $out)[0]);
	return bless {
		h => $h,
		in => \$in,
		port => $info->{port},
		refused => $info->{refused},
		tls_port => $info->{tlsPort},
		http => HTTP::Tiny->new(timeout => 10),
		%opt
	}, $class;
}

sub url
{
	my ($self, $prefix) = @_;
	return "http://127.0.0.1:$self->{port}" . ($prefix // '');
}

sub refused_url { return "http://127.0.0.1:$_[0]{refused}"; }

sub tls_url { return "https://127.0.0.1:$_[0]{tls_port}"; }

sub _request
{
	my ($self, $method, $path, $headers, $body) = @_;
	my $r = $self->{http}->request(
		$method,
		$self->url($path),
		{
			headers => { 'content-type' => 'application/json', %$headers },
			defined $body ? (content => encode_json($body)) : ()
		});
	die "fake backend: $method $path: $r->{status} $r->{content}"
	  unless $r->{success};
	return $r->{content} ? decode_json($r->{content}) : undef;
}

sub vault_put
{
	my ($self, $mount, $path, $data, %opt) = @_;
	my %h = ('x-vault-token' => $self->{vault_token});
	$h{'x-vault-namespace'} = $opt{namespace} if $opt{namespace};
	return $self->_request('POST', "/v1/$mount/data/$path", \%h,
		{ data => $data });
}

sub infisical_create
{
	my ($self, $name, %body) = @_;
	return $self->_request('POST', "/api/v3/secrets/raw/$name",
		{ authorization => "Bearer $self->{infisical_token}" }, \%body);
}

sub json_put
{
	my ($self, $path, $doc) = @_;
	return $self->_request('PUT', "/json/$path",
		{ authorization => "Bearer $self->{json_token}" }, $doc);
}

# Set the fault of the /switch/ prefix ("ok", "500", "hang", ...).
sub switch
{
	my ($self, $mode) = @_;
	return $self->_request('POST', '/_control/switch', {}, { mode => $mode });
}

# Requests the backend has seen under a prefix ("/v1", "/switch", ...).
sub requests
{
	my ($self, $prefix) = @_;
	my $stats = $self->_request('GET', '/_control/stats', {});
	return $stats->{requests}{$prefix} // 0;
}

# TCP connections a client (by User-Agent, e.g. "provsecret") has opened,
# and how many of them are open now.
sub connections
{
	my ($self, $agent) = @_;
	return $self->_request('GET', '/_control/stats', {})->{connections}{$agent} // 0;
}

sub open_connections
{
	my ($self, $agent) = @_;
	return $self->_request('GET', '/_control/stats', {})->{open}{$agent} // 0;
}

# A counter of /_control/stats: "logins", "loginFailures", "writes.vault", ...
sub counter
{
	my ($self, $name) = @_;
	my $v = $self->_request('GET', '/_control/stats', {});
	$v = $v->{$_} for split /\./, $name;
	return $v // 0;
}

# Infisical universal-auth: tokenTtl => s for later logins, revoke => 1.
sub infisical_control
{
	my ($self, %body) = @_;
	$body{revoke} = JSON::PP::true if $body{revoke};
	return $self->_request('POST', '/_control/infisical', {}, \%body);
}

# Vault KV v2 metadata of a path (undef when Vault has none).
sub vault_metadata
{
	my ($self, $mount, $path) = @_;
	my $r = $self->{http}->request('GET', $self->url("/v1/$mount/metadata/$path"),
		{ headers => { 'x-vault-token' => $self->{vault_token} } });
	return undef if $r->{status} == 404;
	die "fake backend: metadata $path: $r->{status}" unless $r->{success};
	return decode_json($r->{content});
}

sub stop
{
	my ($self) = @_;
	return unless $self->{h};
	${ $self->{in} } = '';
	eval { $self->{h}->kill_kill(grace => 2); };
	delete $self->{h};
}

sub DESTROY { $_[0]->stop; }

1;
